//! A refresh token is never lost through `TOKEN_FILE`: a rotated token that cannot be
//! written waits in memory and is written once it can, a file the owner changed meanwhile is
//! adopted rather than overwritten, and temporary files of interrupted writes go at start.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use now_playing::storage::{read_token_file, write_token_file};
use secrecy::ExposeSecret;
use wiremock::MockServer;

use crate::helpers::*;
use crate::spotify_mock::*;
use crate::token_lifecycle::{
    admin_config, callback, expiring_in_days, login_state, mount_refresh, resolve_with_file,
    token_file_with,
};

const SAVE_FAILED: &str = "could not save the new refresh token";
const SAVED_AT_LAST: &str = "the refresh token is saved in TOKEN_FILE at last";
const ADOPTED: &str = "TOKEN_FILE was changed by someone else";
const NOT_WRITING_OVER: &str = "not writing the new refresh token over TOKEN_FILE";

/// A token file in a directory of its own, which [`Broken`] can take away.
fn token_file_in_own_dir(token: &str, obtained_at: Option<DateTime<Utc>>) -> PathBuf {
    let dir = scratch_dir("token-file").join("tokens");
    std::fs::create_dir(&dir).unwrap();
    token_file_with(&dir, token, obtained_at)
}

/// Every write of a token file fails for real while this lives, whoever runs the tests (root
/// ignores permissions): its directory is moved aside and a regular file takes its place, so
/// creating the temporary file fails (`ENOTDIR`) as it would on a full disk (`ENOSPC`).
struct Broken {
    dir: PathBuf,
    aside: PathBuf,
}

impl Broken {
    fn token_dir_of(file: &Path) -> Broken {
        let dir = file.parent().unwrap().to_owned();
        let aside = dir.with_extension("aside");
        std::fs::rename(&dir, &aside).unwrap();
        std::fs::write(&dir, b"not a directory").unwrap();
        Broken { dir, aside }
    }

    /// The space comes back.
    fn mend(self) {
        std::fs::remove_file(&self.dir).unwrap();
        std::fs::rename(&self.aside, &self.dir).unwrap();
    }
}

fn stored(file: &Path) -> (String, Option<DateTime<Utc>>) {
    let token = read_token_file(file).unwrap().expect("a token file");
    (
        token.refresh_token.expose_secret().to_owned(),
        token.obtained_at,
    )
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

fn assert_no_secrets(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

async fn token_file_state(app: &TestApp) -> serde_json::Value {
    app.get_json("/readyz").await.1["token_file"].clone()
}

/// Lets the app's tasks run until `done`, for at most 5 s (of real time, not the clock's).
async fn until(what: &str, done: impl Fn() -> bool) {
    eventually(what, || std::future::ready(done())).await;
}

#[tokio::test]
async fn a_rotated_token_that_cannot_be_written_is_retried_at_every_use_and_logged_once() {
    let (_guard, logs) = capture_logs();
    let obtained: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
    let file = token_file_in_own_dir(REFRESH_TOKEN, Some(obtained));
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 0).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;

    // Spotify rotates the token at the server's first refresh, and the disk is full.
    let broken = Broken::token_dir_of(&file);
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(
        (status, &ready["token_file"]),
        (200, &"unsaved".into()),
        "{ready}"
    );
    // Each use (here a fetch every 10 s, under the minute check) tries again, quietly.
    for _ in 0..3 {
        app.advance(10);
        app.get("/now-playing").await;
        app.refresh_landed().await;
    }
    assert_eq!(token_file_state(&app).await, "unsaved");
    assert_eq!(count(&logged(&logs), SAVE_FAILED), 1, "{}", logged(&logs));

    broken.mend();
    assert_eq!(stored(&file).0, REFRESH_TOKEN, "nothing wrote it yet");
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        stored(&file),
        (ROTATED_REFRESH_TOKEN.to_owned(), Some(obtained)),
        "the next use saved the rotated token, with the authorization time"
    );
    assert_eq!(token_file_state(&app).await, "saved");
    let text = logged(&logs);
    assert_eq!(count(&text, SAVE_FAILED), 1, "{text}");
    assert_eq!(count(&text, SAVED_AT_LAST), 1, "{text}");
    assert!(text.contains("\"failed_attempts\":"), "{text}");
    assert_no_secrets(&text);
}

#[tokio::test]
async fn a_rotated_token_that_cannot_be_written_is_saved_by_the_minute_check_once_it_can() {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 0).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;

    let broken = Broken::token_dir_of(&file);
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    assert_eq!(token_file_state(&app).await, "unsaved");
    broken.mend();

    // No request from here on: only the minute check can write it.
    app.advance(59);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(stored(&file).0, REFRESH_TOKEN, "not before the minute");
    app.advance(1);
    until("the minute check writes the token", || {
        stored(&file).0 == ROTATED_REFRESH_TOKEN
    })
    .await;
    eventually("/readyz says saved", || async {
        token_file_state(&app).await == "saved"
    })
    .await;
    let text = logged(&logs);
    assert_eq!(count(&text, SAVED_AT_LAST), 1, "{text}");
    assert_no_secrets(&text);
}

#[tokio::test]
async fn the_owners_new_token_file_is_adopted_with_its_authorization_time() {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, Some(expiring_in_days(10)));
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 1).await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 0).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    let ready = app.get_json("/readyz").await.1;
    assert_eq!(ready["refresh_token_expires_at"], "2026-12-09T03:00:00Z");

    // The owner runs `now-playing auth --token-file` while the server runs.
    write_token_file(
        &file,
        &AUTHORIZED_REFRESH_TOKEN.to_owned().into(),
        Some(start_time()),
    )
    .unwrap();
    app.advance(60);
    until("the minute check adopts the owner's token", || {
        count(&logged(&logs), ADOPTED) == 1
    })
    .await;
    eventually("the expiry follows the owner's authorization", || async {
        app.get_json("/readyz").await.1["refresh_token_expires_at"] == "2027-05-29T03:00:00Z"
    })
    .await;
    assert_eq!(token_file_state(&app).await, "saved");
    assert_eq!(stored(&file).0, AUTHORIZED_REFRESH_TOKEN);

    // The access token runs out: the refresh carries the owner's token (the mocks' form
    // matchers and counts), and its rotation is kept with the owner's authorization time.
    // The fetch that `/readyz` started, before the clock moves on.
    app.refresh_landed().await;
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        stored(&file),
        (ROTATED_REFRESH_TOKEN.to_owned(), Some(start_time()))
    );
    let text = logged(&logs);
    assert_eq!(count(&text, ADOPTED), 1, "{text}");
    assert_no_secrets(&text);
}

#[tokio::test]
async fn a_token_waiting_to_be_saved_never_overwrites_the_owners_new_one() {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 0).await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN, 1).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;

    let broken = Broken::token_dir_of(&file);
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    assert_eq!(token_file_state(&app).await, "unsaved");
    // The disk comes back and the owner authorizes again before the server's retry.
    broken.mend();
    write_token_file(
        &file,
        &AUTHORIZED_REFRESH_TOKEN.to_owned().into(),
        Some(start_time()),
    )
    .unwrap();
    app.advance(60);
    until("the owner's token is adopted", || {
        count(&logged(&logs), ADOPTED) == 1
    })
    .await;
    assert_eq!(
        stored(&file),
        (AUTHORIZED_REFRESH_TOKEN.to_owned(), Some(start_time())),
        "the older rotated token did not overwrite it"
    );
    eventually("/readyz follows the owner's token", || async {
        let ready = app.get_json("/readyz").await.1;
        ready["token_file"] == "saved"
            && ready["refresh_token_expires_at"] == "2027-05-29T03:00:00Z"
    })
    .await;

    // The fetch that `/readyz` started, before the clock moves on.
    app.refresh_landed().await;
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let text = logged(&logs);
    assert!(text.contains("\"dropped_unsaved_token\":true"), "{text}");
    assert_no_secrets(&text);
}

#[tokio::test]
async fn a_token_authorized_from_the_browser_is_not_taken_for_someone_elses() {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 1).await;
    on_token(&spotify)
        .form("grant_type", "authorization_code")
        .respond(json(TOKEN_AUTHORIZED))
        .expect(1)
        .await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let mut config = resolve_with_file(&file, &spotify);
    config.admin = admin_config(&spotify).admin;
    config.public_url = admin_config(&spotify).public_url;
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 200);

    let (state, cookie) = login_state(&app).await;
    let (status, page) = callback(&app, &format!("code=c&state={state}"), Some(&cookie)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(stored(&file).0, AUTHORIZED_REFRESH_TOKEN);

    // The next refresh looks at the file first: the server's own write is no news.
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(
        stored(&file),
        (ROTATED_REFRESH_TOKEN.to_owned(), Some(start_time()))
    );
    let text = logged(&logs);
    assert_eq!(count(&text, ADOPTED), 0, "{text}");
}

#[tokio::test]
async fn a_browser_authorization_that_cannot_be_saved_is_retried_like_a_rotation() {
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN, 1).await;
    on_token(&spotify)
        .form("grant_type", "authorization_code")
        .respond(json(TOKEN_AUTHORIZED))
        .expect(1)
        .await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let mut config = resolve_with_file(&file, &spotify);
    config.admin = admin_config(&spotify).admin;
    config.public_url = admin_config(&spotify).public_url;
    let app = spawn_with_config(spotify, config).await;
    assert_eq!(app.get_json("/now-playing").await.0, 200);

    let broken = Broken::token_dir_of(&file);
    let (state, cookie) = login_state(&app).await;
    let (status, page) = callback(&app, &format!("code=c&state={state}"), Some(&cookie)).await;
    assert_eq!(status, 500, "{page}");
    assert!(page.contains("tries again"), "{page}");
    assert_eq!(token_file_state(&app).await, "unsaved");

    broken.mend();
    app.advance(60);
    until("the minute check writes the token", || {
        stored(&file).0 == AUTHORIZED_REFRESH_TOKEN
    })
    .await;
    assert_eq!(stored(&file).1, Some(start_time()));
}

/// A rotated token meets a file the server cannot read (`spoil`), which may hold the owner's
/// renewal: the file is left as it is, the token waits in memory (tried again at every use),
/// and the log says why once, naming the file and the problem (`cause`); the owner's token
/// that then appears is adopted at the next use.
async fn a_rotated_token_is_never_written_over(spoil: impl Fn(&Path), cause: &str) {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let spotify = MockServer::start().await;
    mount_refresh(&spotify, REFRESH_TOKEN, TOKEN_ROTATED, 1).await;
    mount_refresh(&spotify, ROTATED_REFRESH_TOKEN, TOKEN, 0).await;
    mount_refresh(&spotify, AUTHORIZED_REFRESH_TOKEN, TOKEN, 1).await;
    on_playing(&spotify).respond(json(TRACK)).await;
    let config = resolve_with_file(&file, &spotify);
    let app = spawn_with_config(spotify, config).await;

    spoil(&file);
    let spoilt = std::fs::symlink_metadata(&file).unwrap();
    let spoilt_bytes = std::fs::read(&file).ok();
    assert_eq!(app.get_json("/now-playing").await.0, 200);
    assert_eq!(token_file_state(&app).await, "unsaved");
    for _ in 0..3 {
        app.advance(10);
        app.get("/now-playing").await;
        app.refresh_landed().await;
    }
    assert_eq!(token_file_state(&app).await, "unsaved");
    let now = std::fs::symlink_metadata(&file).unwrap();
    assert_eq!(
        (now.file_type(), now.len(), std::fs::read(&file).ok()),
        (spoilt.file_type(), spoilt.len(), spoilt_bytes),
        "the file is left as it is"
    );
    let text = logged(&logs);
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(NOT_WRITING_OVER))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("\"level\":\"WARN\"")
            && warnings[0].contains(&file.display().to_string())
            && warnings[0].contains(cause),
        "{text}"
    );
    assert_eq!(count(&text, SAVE_FAILED), 0, "{text}");

    // The owner's renewal lands as a file the server can read.
    let _ = std::fs::remove_file(&file);
    write_token_file(
        &file,
        &AUTHORIZED_REFRESH_TOKEN.to_owned().into(),
        Some(start_time()),
    )
    .unwrap();
    app.advance(10);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    assert_eq!(count(&logged(&logs), ADOPTED), 1, "{}", logged(&logs));
    assert_eq!(token_file_state(&app).await, "saved");
    assert_eq!(stored(&file).0, AUTHORIZED_REFRESH_TOKEN);
    // The fetch that `/readyz` started, before the clock moves on; then the next refresh
    // carries the owner's token (the mocks' counts).
    app.refresh_landed().await;
    app.advance(3600);
    app.get("/now-playing").await;
    app.refresh_landed().await;
    let text = logged(&logs);
    assert!(text.contains("\"dropped_unsaved_token\":true"), "{text}");
    assert_no_secrets(&text);
}

#[tokio::test]
async fn a_token_file_the_server_cannot_read_is_never_written_over() {
    // As an owner's file of mode 0600 written by another user would be; root, who runs the
    // tests, reads through permissions, so: a link to itself (ELOOP), which a rename would
    // replace.
    let spoil = |file: &Path| {
        std::fs::remove_file(file).unwrap();
        std::os::unix::fs::symlink(file.file_name().unwrap(), file).unwrap();
    };
    a_rotated_token_is_never_written_over(spoil, "cannot read").await;
}

#[tokio::test]
async fn a_half_saved_token_file_is_never_written_over() {
    let spoil = |file: &Path| std::fs::write(file, b"{\"refresh_token\": \"AQ").unwrap();
    a_rotated_token_is_never_written_over(spoil, "is not a token file").await;
}

#[tokio::test]
async fn temporary_files_left_by_an_interrupted_write_are_removed_at_start() {
    let (_guard, logs) = capture_logs();
    let file = token_file_in_own_dir(REFRESH_TOKEN, None);
    let dir = file.parent().unwrap();
    let leftover = dir.join(".token.json.0a1b2c3d4e5f.tmp");
    std::fs::write(
        &leftover,
        format!("{{\"refresh_token\": \"{ROTATED_REFRESH_TOKEN}\"}}"),
    )
    .unwrap();
    let unrelated = [
        "notes.txt",
        ".token.json.tmp",
        ".token.json.0a1b2c3d4e5f.tmp.bak",
        ".other.json.0a1b2c3d4e5f.tmp",
        "..env.0a1b2c3d4e5f.tmp",
    ];
    for name in unrelated {
        std::fs::write(dir.join(name), b"keep").unwrap();
    }
    let spotify = MockServer::start().await;
    let config = resolve_with_file(&file, &spotify);
    let _app = spawn_with_config(spotify, config).await;

    assert!(!leftover.exists(), "the leftover is gone");
    for name in unrelated {
        assert!(dir.join(name).exists(), "{name} stays");
    }
    assert_eq!(stored(&file).0, REFRESH_TOKEN);
    let text = logged(&logs);
    assert!(
        text.contains("removed a temporary file left by an interrupted write of TOKEN_FILE")
            && text.contains(".token.json.0a1b2c3d4e5f.tmp"),
        "{text}"
    );
    assert_no_secrets(&text);
}
