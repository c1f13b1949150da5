//! Keeping the refresh token: the token file, expiry warnings, `/readyz`, owner-only
//! re-authorization through `/auth/login` and `/auth/callback`, and `now-playing check`.

use base64::Engine;
use chrono::{DateTime, Utc};
use now_playing::config::{AdminConfig, Config, Source};
use now_playing::storage::{AtomicWrite, read_token_file, write_token_file};
use reqwest::Url;
use wiremock::MockServer;

use crate::helpers::*;
use crate::spotify_mock::*;

pub(crate) fn token_file_with(
    dir: &std::path::Path,
    token: &str,
    obtained_at: Option<DateTime<Utc>>,
) -> std::path::PathBuf {
    let file = dir.join("token.json");
    write_token_file(&file, &token.to_owned().into(), obtained_at).unwrap();
    file
}

/// The configuration `Settings::resolve` makes of the environment token plus `TOKEN_FILE`.
pub(crate) fn resolve_with_file(file: &std::path::Path, spotify: &MockServer) -> Config {
    let settings = now_playing::config::Settings {
        spotify: now_playing::config::SpotifySettings {
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(CLIENT_SECRET.parse().unwrap()),
            refresh_token: Some(REFRESH_TOKEN.parse().unwrap()),
            token_file: Some(file.to_owned()),
            accounts_url: Some(spotify.uri()),
            api_url: Some(spotify.uri()),
            ..Default::default()
        },
        server: now_playing::config::ServerSettings {
            port: Some("0".into()),
            ..Default::default()
        },
    };
    settings.resolve(false).unwrap()
}

pub(crate) async fn mount_refresh(
    spotify: &MockServer,
    refresh_token: &str,
    body: &str,
    times: u64,
) {
    on_token(spotify)
        .form("refresh_token", refresh_token)
        .respond(json(body))
        .expect(times)
        .await;
}

#[tokio::test]
async fn the_token_file_wins_over_the_environment() {
    let file = token_file_with(&scratch_dir("token-file"), AUTHORIZED_REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN, 1).await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 0).await;
    mount_playing(&spotify, TRACK, 1).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 200);
}

#[tokio::test]
async fn a_missing_token_file_falls_back_to_the_environment_token() {
    let file = scratch_dir("token-file").join("not-yet.json");
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 1).await;
    mount_playing(&spotify, TRACK, 1).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 200);
}

#[tokio::test]
async fn a_corrupt_token_file_is_a_clear_start_up_error() {
    let dir = scratch_dir("token-file");
    let file = dir.join("token.json");
    std::fs::write(&file, "{\"refresh_token\": ").unwrap();
    let output = binary(
        &["serve"],
        &[
            ("SPOTIFY_CLIENT_ID", CLIENT_ID),
            ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET),
            ("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN),
            ("TOKEN_FILE", file.to_str().unwrap()),
            ("PORT", "0"),
        ],
    )
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TOKEN_FILE") && stderr.contains("is not a token file"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"));
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_and_used_after_a_restart() {
    use secrecy::ExposeSecret;
    use std::os::unix::fs::PermissionsExt;
    let obtained: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
    let file = token_file_with(&scratch_dir("token-file"), REFRESH_TOKEN, Some(obtained));

    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_playing(&spotify, TRACK, 1).await;
    let config = resolve_with_file(&file, &spotify);
    let first = spawn_with_config(spotify, config).await;
    assert_eq!(first.get_json("/now-playing").await.0, 200);
    first.shutdown.cancel();
    drop(first);

    let stored = read_token_file(&file).unwrap().unwrap();
    assert_eq!(stored.refresh_token.expose_secret(), ROTATED_REFRESH_TOKEN);
    assert_eq!(
        stored.obtained_at,
        Some(obtained),
        "rotation keeps the authorization time"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let spotify = MockServer::start().await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 1).await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 0).await;
    mount_playing(&spotify, TRACK, 1).await;
    let config = resolve_with_file(&file, &spotify);
    let second = spawn_with_config(spotify, config).await;
    assert_eq!(second.get_json("/now-playing").await.0, 200);
}

#[tokio::test]
async fn an_interrupted_write_never_tears_the_token_file() {
    use secrecy::ExposeSecret;
    let file = token_file_with(&scratch_dir("token-file"), REFRESH_TOKEN, None);
    let new_body = br#"{"refresh_token": "new-token", "obtained_at": null}"#;

    // A crash after the temporary file is complete, before the rename.
    let write = AtomicWrite::prepare(&file, new_body).unwrap();
    let temp = write.temp_path().to_owned();
    write.abandon();
    assert_eq!(
        read_token_file(&file)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        REFRESH_TOKEN,
        "the old token is intact"
    );
    assert!(
        temp.exists() && temp.parent() == file.parent(),
        "the temp file sits next to the target"
    );

    // A write dropped half-way cleans up after itself.
    let dropped = AtomicWrite::prepare(&file, new_body).unwrap();
    let dropped_temp = dropped.temp_path().to_owned();
    drop(dropped);
    assert!(!dropped_temp.exists());
    assert_eq!(
        read_token_file(&file)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        REFRESH_TOKEN
    );

    AtomicWrite::prepare(&file, new_body)
        .unwrap()
        .commit()
        .unwrap();
    assert_eq!(
        read_token_file(&file)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        "new-token"
    );
}

#[tokio::test]
async fn after_invalid_grant_a_token_put_into_the_token_file_is_tried_within_a_minute() {
    let file = token_file_with(&scratch_dir("token-file"), REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    on_token(&spotify)
        .form("refresh_token", REFRESH_TOKEN)
        .respond(json_status(400, INVALID_GRANT))
        .expect(1)
        .await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN, 1).await;
    mount_playing(&spotify, TRACK, 1).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;

    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("spotify_auth"))
    );
    // The owner fixes it by hand (or with `now-playing auth --token-file`).
    write_token_file(&file, &AUTHORIZED_REFRESH_TOKEN.to_owned().into(), None).unwrap();
    app.advance(30);
    assert_eq!(
        app.get_json("/now-playing").await.0,
        503,
        "not before a minute has passed"
    );
    app.refresh_landed().await;
    assert_eq!(app.get_json("/now-playing").await.0, 503);
    app.advance(30);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let (status, body) = app.get_json("/now-playing").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["item"]["title"], "Digital Love");
}

/// An authorization time whose six-month expiry is `days` after the manual clock's start.
pub(crate) fn expiring_in_days(days: i64) -> DateTime<Utc> {
    let expires: DateTime<Utc> = start_time() + chrono::Duration::days(days);
    expires.checked_sub_months(chrono::Months::new(6)).unwrap()
}

fn with_obtained_at(obtained_at: DateTime<Utc>) -> impl FnOnce(&mut Config) {
    move |c| {
        if let Source::Spotify(s) = &mut c.source {
            s.refresh_token_obtained_at = Some(obtained_at);
        }
    }
}

#[tokio::test]
async fn an_expiring_refresh_token_is_warned_about_at_start_and_once_a_day() {
    let (_guard, logs) = capture_logs();
    let app = spawn_app_with(with_obtained_at(expiring_in_days(10))).await;
    on_token(&app.spotify).respond(json(TOKEN)).await;
    mount_playing(&app.spotify, TRACK, 0).await;
    app.get("/healthz").await;

    let warnings = |text: &str| {
        text.matches("the Spotify refresh token expires soon")
            .count()
    };
    wait_until(|| warnings(&logged(&logs)) == 1).await;
    app.advance(3600);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(warnings(&logged(&logs)), 1, "not more than once a day");
    app.advance(86_400 - 3600);
    wait_until(|| warnings(&logged(&logs)) == 2).await;
    let text = logged(&logs);
    assert!(text.contains("now-playing auth"), "{text}");
    assert!(text.contains("\"days_left\":9"), "{text}");
}

#[tokio::test]
async fn a_distant_expiry_is_not_warned_about() {
    let (_guard, logs) = capture_logs();
    let app = spawn_app_with(with_obtained_at(expiring_in_days(100))).await;
    on_token(&app.spotify).respond(json(TOKEN)).await;
    app.get("/healthz").await;
    wait_until(|| logged(&logs).contains("expires in 100 days")).await;
    assert!(!logged(&logs).contains("expires soon"));
}

/// Lets the app's tasks (on this current-thread runtime) run until `done`, for at most 5 s.
async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "the condition never became true"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn readyz_is_200_with_the_expiry_when_the_credentials_work() {
    let obtained = expiring_in_days(10);
    let app = spawn_app_with(with_obtained_at(obtained)).await;
    mount_token(&app.spotify, 1).await;
    mount_playing(&app.spotify, TRACK, 1).await;

    for _ in 0..3 {
        let (status, body) = app.get_json("/readyz").await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ready");
        assert_eq!(body["refresh_token_expires_at"], "2026-12-09T03:00:00Z");
    }
    app.get("/now-playing").await;
}

#[tokio::test]
async fn readyz_names_dead_credentials_and_the_json_error_carries_the_expiry() {
    for (body, reason) in [
        (INVALID_GRANT, "invalid_grant"),
        (INVALID_CLIENT, "invalid_client"),
    ] {
        let app = spawn_app_with(with_obtained_at(expiring_in_days(-1))).await;
        on_token(&app.spotify)
            .respond(json_status(400, body))
            .expect(1)
            .await;
        let (status, ready) = app.get_json("/readyz").await;
        assert_eq!(status, 503);
        assert_eq!(ready["reason"], reason);
        let (status, doc) = app.get_json("/now-playing").await;
        assert_eq!(status, 503);
        assert_eq!(doc["error"]["code"], "spotify_auth");
        assert_eq!(doc["refresh_token_expires_at"], "2026-11-28T03:00:00.000Z");
    }
}

#[tokio::test]
async fn readyz_says_upstream_while_spotify_fails() {
    let app = spawn_app().await;
    mount_token(&app.spotify, 1).await;
    on_playing(&app.spotify)
        .respond(wiremock::ResponseTemplate::new(503))
        .expect(1)
        .await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "upstream");
}

pub(crate) fn admin_config(spotify: &MockServer) -> Config {
    let mut config = test_config(spotify);
    config.admin = Some(AdminConfig {
        token: ADMIN_TOKEN.to_owned().into(),
    });
    config.public_url = Some(Url::parse("https://np.example.com").unwrap());
    config
}

pub(crate) fn basic(password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("owner:{password}"))
    )
}

async fn login(app: &TestApp, password: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url("/auth/login"));
    if let Some(password) = password {
        request = request.header("authorization", basic(password));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn auth_routes_are_404_without_an_admin_token() {
    let app = spawn_app().await;
    assert_eq!(app.get("/auth/login").await.status().as_u16(), 404);
    assert_eq!(
        app.get("/auth/callback?code=x&state=y")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn login_needs_the_admin_password() {
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;

    let none = login(&app, None).await;
    assert_eq!(none.status().as_u16(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(login(&app, Some("wrong")).await.status().as_u16(), 401);
    assert_eq!(
        login(&app, Some(&format!("{ADMIN_TOKEN}x")))
            .await
            .status()
            .as_u16(),
        401
    );

    let ok = login(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(ok.status().as_u16(), 302);
    let location = Url::parse(ok.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/authorize?", app.spotify.uri()))
    );
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(
        query["redirect_uri"],
        "https://np.example.com/auth/callback"
    );
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["show_dialog"], "true");
    assert_eq!(query["state"].len(), 32);
}

#[tokio::test]
async fn repeated_wrong_passwords_slow_a_client_down_for_a_minute() {
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;

    for _ in 0..5 {
        assert_eq!(login(&app, Some("guess")).await.status().as_u16(), 401);
    }
    let blocked = login(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(
        blocked.status().as_u16(),
        429,
        "even the right password waits"
    );
    assert!(blocked.headers().contains_key("retry-after"));
    app.advance(61);
    assert_eq!(login(&app, Some(ADMIN_TOKEN)).await.status().as_u16(), 302);
}

#[tokio::test]
async fn the_basic_scheme_name_is_matched_without_regard_to_case() {
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;

    let credentials = basic(ADMIN_TOKEN);
    let credentials = credentials.trim_start_matches("Basic ");
    // Six tries: were any of them counted as a wrong password, the sixth would be locked out.
    for scheme in ["basic", "BASIC", "bAsIc", "basic", "BaSiC", "basic"] {
        let response = app
            .http
            .get(app.url("/auth/login"))
            .header("authorization", format!("{scheme} {credentials}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 302, "{scheme}");
    }
}

/// The `state` sent to Spotify and the cookie set in the owner's browser by `/auth/login`.
pub(crate) async fn login_state(app: &TestApp) -> (String, String) {
    let response = login(app, Some(ADMIN_TOKEN)).await;
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
            && set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    (state, cookie)
}

/// The browser coming back from Spotify, with or without the login cookie.
pub(crate) async fn callback(app: &TestApp, query: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(app.url(&format!("/auth/callback?{query}")));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_callback_swaps_in_the_new_token_and_saves_it() {
    use secrecy::ExposeSecret;
    let file = token_file_with(&scratch_dir("token-file"), REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    // The old token is dead.
    on_token(&spotify)
        .form("grant_type", "refresh_token")
        .respond(json_status(400, INVALID_GRANT))
        .expect(1)
        .await;
    on_token(&spotify)
        .form("grant_type", "authorization_code")
        .form("code", "fresh-code")
        .form(
            "redirect_uri",
            "https%3A%2F%2Fnp.example.com%2Fauth%2Fcallback",
        )
        .respond(json(TOKEN_AUTHORIZED))
        .expect(1)
        .await;
    on_playing(&spotify)
        .header(
            "authorization",
            &format!("Bearer {AUTHORIZED_ACCESS_TOKEN}"),
        )
        .respond(json(TRACK))
        .expect(1)
        .await;
    let mut config = resolve_with_file(&file, &spotify);
    config.admin = admin_config(&spotify).admin;
    config.public_url = admin_config(&spotify).public_url;
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 503);

    let (state, cookie) = login_state(&app).await;
    let (status, page) = callback(
        &app,
        &format!("code=fresh-code&state={state}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("uses the new Spotify authorization") && page.contains("2027-05-29"),
        "{page}"
    );
    for secret in SECRETS {
        assert!(!page.contains(secret));
    }
    let stored = read_token_file(&file).unwrap().unwrap();
    assert_eq!(
        stored.refresh_token.expose_secret(),
        AUTHORIZED_REFRESH_TOKEN
    );
    assert_eq!(
        stored.obtained_at,
        Some(start_time()),
        "the expiry clock starts again"
    );

    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let (status, doc) = app.get_json("/now-playing").await;
    assert_eq!(status, 200, "{doc}");
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["refresh_token_expires_at"], "2027-05-29T03:00:00Z");

    let (status, _) = callback(
        &app,
        &format!("code=fresh-code&state={state}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 400, "a state works once");
}

#[tokio::test]
async fn unknown_expired_and_declined_states_change_nothing() {
    let spotify = MockServer::start().await;
    on_token(&spotify)
        .form("grant_type", "authorization_code")
        .respond(json(TOKEN_AUTHORIZED))
        .expect(0)
        .await;
    let config = admin_config(&spotify);
    let app = spawn_with_config(spotify, config).await;

    assert_eq!(
        app.get_text("/auth/callback?code=c&state=made-up").await.0,
        400
    );
    assert_eq!(app.get_text("/auth/callback?code=c").await.0, 400);
    let (state, cookie) = login_state(&app).await;
    app.advance(601);
    let (status, page) = callback(&app, &format!("code=c&state={state}"), Some(&cookie)).await;
    assert_eq!(status, 400);
    assert!(page.contains("older than 10 minutes"));

    // A leaked authorize URL is no use in another browser: the state needs its cookie.
    let (state, cookie) = login_state(&app).await;
    assert_eq!(
        callback(&app, &format!("code=c&state={state}"), None)
            .await
            .0,
        400
    );
    let (state, _) = login_state(&app).await;
    let (status, _) = callback(&app, &format!("code=c&state={state}"), Some(&cookie)).await;
    assert_eq!(status, 400, "another login's cookie does not fit");

    let (state, cookie) = login_state(&app).await;
    let (status, page) = callback(
        &app,
        &format!("error=access_denied&state={state}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("access_denied"));
}

#[tokio::test]
async fn admin_token_needs_public_url_and_a_decent_length() {
    let mut settings = now_playing::config::Settings::default();
    settings.server.admin_token = Some("short".parse().unwrap());
    let error = settings.resolve(true).unwrap_err().to_string();
    assert!(error.contains("ADMIN_TOKEN is too short"), "{error}");
    settings.server.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    let error = settings.resolve(true).unwrap_err().to_string();
    assert!(error.contains("PUBLIC_URL is missing"), "{error}");
    assert!(!error.contains(ADMIN_TOKEN));
}

async fn check(spotify: &MockServer, extra: &[(&'static str, String)]) -> (Option<i32>, String) {
    let mut env = spotify_env(spotify);
    env.extend_from_slice(extra);
    let output = binary(&["check"], &as_env(&env)).output().await.unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn check_says_all_is_well_and_what_plays() {
    let spotify = MockServer::start().await;
    mount_token(&spotify, 1).await;
    mount_playing(&spotify, TRACK, 1).await;
    let (code, out) = check(
        &spotify,
        &[(
            "SPOTIFY_REFRESH_TOKEN_OBTAINED_AT",
            "2026-11-01T00:00:00Z".into(),
        )],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("✓ credentials"), "{out}");
    assert!(
        out.contains("✓ scopes: user-read-currently-playing user-read-recently-played"),
        "{out}"
    );
    assert!(
        out.contains("playing \"Digital Love\" by Daft Punk, Todd Edwards"),
        "{out}"
    );
    assert!(out.contains("✓ refresh token: expires 2027-05-01"), "{out}");
    assert!(out.ends_with("All good.\n"), "{out}");
}

#[tokio::test]
async fn check_names_the_command_that_fixes_dead_credentials() {
    let spotify = MockServer::start().await;
    on_token(&spotify)
        .respond(json_status(400, INVALID_GRANT))
        .expect(1)
        .await;
    mount_playing(&spotify, TRACK, 0).await;
    let (code, out) = check(&spotify, &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ credentials: invalid_grant")
            && out.contains("now-playing auth --write-env .env"),
        "{out}"
    );
}

#[tokio::test]
async fn check_warns_about_a_missing_scope_and_an_unknown_expiry() {
    let spotify = MockServer::start().await;
    on_token(&spotify)
        .respond(json(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"scope":"user-read-currently-playing"}"#,
        ))
        .await;
    on_playing(&spotify)
        .query("additional_types", "track,episode")
        .respond(wiremock::ResponseTemplate::new(204))
        .await;
    let (code, out) = check(&spotify, &[]).await;
    assert_eq!(code, Some(1), "recent tracks are on but cannot work: {out}");
    assert!(out.contains("no user-read-recently-played"), "{out}");
    assert!(out.contains("nothing is playing"), "{out}");
    assert!(out.contains("expiry unknown"), "{out}");
    let (code, _) = check(&spotify, &[("SHOW_RECENT", "false".into())]).await;
    assert_eq!(code, Some(0), "fine when recent tracks are off");
}

#[tokio::test]
async fn debug_of_admin_settings_never_shows_the_admin_token() {
    let spotify = MockServer::start().await;
    let config = admin_config(&spotify);
    let text = format!("{config:?}");
    assert!(!text.contains(ADMIN_TOKEN), "{text}");
}

#[tokio::test]
async fn a_token_file_error_never_quotes_the_token() {
    let file = scratch_dir("token-file").join("token.json");
    std::fs::write(&file, format!("\"{REFRESH_TOKEN}\"")).unwrap();
    let error = now_playing::storage::read_token_file(&file)
        .unwrap_err()
        .to_string();
    assert!(error.contains("is not a token file"), "{error}");
    assert!(!error.contains(REFRESH_TOKEN), "{error}");
}

#[tokio::test]
async fn public_url_for_auth_must_be_https_or_loopback() {
    let mut settings = now_playing::config::Settings::default();
    settings.server.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    settings.server.public_url = Some("http://np.example.com".into());
    let error = settings.resolve(true).unwrap_err().to_string();
    assert!(
        error.contains("PUBLIC_URL cannot carry /auth/login") && error.contains("plain http"),
        "{error}"
    );
    settings.server.public_url = Some("http://127.0.0.1:8080".into());
    assert!(settings.resolve(true).is_ok());
}

#[tokio::test]
async fn dead_credentials_are_explained_once_in_the_log_however_long_they_stay_dead() {
    let (_guard, logs) = capture_logs();
    let app = spawn_app().await;
    on_token(&app.spotify)
        .respond(json_status(400, INVALID_GRANT))
        .await;
    for _ in 0..18 {
        app.get("/now-playing").await;
        app.refresh_landed().await;
        app.advance(10);
    }
    let text = logged(&logs);
    assert!(
        app.calls_to(TOKEN_PATH).await >= 3,
        "retried once a minute for three minutes"
    );
    let advice: Vec<&str> = text.lines().filter(|l| l.contains("Fix:")).collect();
    assert_eq!(advice.len(), 1, "{text}");
    let line = advice[0];
    assert!(line.contains(r#""level":"ERROR""#), "{line}");
    assert!(
        line.contains("now-playing auth") && line.contains("/auth/login"),
        "{line}"
    );
}
