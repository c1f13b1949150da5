//! `now-playing auth`, end to end: the real binary, a wiremock accounts service, and an
//! HTTP client that follows the printed URL back to the callback as a browser would.

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use wiremock::MockServer;

use crate::helpers::*;
use crate::spotify_mock::*;

struct AuthRun {
    child: tokio::process::Child,
    stderr: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: Vec<String>,
    redirect_uri: String,
}

fn client_env(spotify: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("SPOTIFY_CLIENT_ID", CLIENT_ID.into()),
        ("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("SPOTIFY_ACCOUNTS_URL", spotify.uri()),
    ]
}

impl AuthRun {
    fn start(spotify: &MockServer, dir: &Path, extra: &[&str]) -> AuthRun {
        let redirect_uri = format!("http://127.0.0.1:{}/callback", free_port());
        let mut args = vec!["auth", "--no-browser", "--redirect-uri", &redirect_uri];
        args.extend_from_slice(extra);
        let env = client_env(spotify);
        let mut child = binary_in(dir, &args, &as_env(&env)).spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        AuthRun {
            child,
            stderr,
            seen: Vec::new(),
            redirect_uri,
        }
    }

    /// Reads stderr up to the printed authorize URL and returns its query.
    async fn authorize_query(&mut self, accounts: &str) -> HashMap<String, String> {
        let prefix = format!("{accounts}/authorize?");
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), self.stderr.next_line())
                .await
                .expect("the URL is printed")
                .unwrap()
                .unwrap_or_else(|| panic!("ended before printing the URL: {:?}", self.seen));
            self.seen.push(line.clone());
            if let Some(query) = line.trim().strip_prefix(&prefix) {
                return url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
            }
        }
    }

    /// The browser coming back from Spotify.
    async fn callback(&self, query: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}?{query}", self.redirect_uri))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn finish(mut self) -> (Output, String) {
        while let Ok(Some(line)) = self.stderr.next_line().await {
            self.seen.push(line);
        }
        let output = tokio::time::timeout(Duration::from_secs(10), self.child.wait_with_output())
            .await
            .expect("auth ends")
            .unwrap();
        (output, self.seen.join("\n"))
    }
}

async fn mount_code_exchange(
    spotify: &MockServer,
    code: &str,
    response: wiremock::ResponseTemplate,
) {
    on_token(spotify)
        .form("grant_type", "authorization_code")
        .form("code", code)
        .form("redirect_uri", "http%3A%2F%2F127.0.0.1%3A")
        .respond(response)
        .expect(1)
        .await;
}

#[tokio::test]
async fn auth_goes_from_the_printed_url_to_a_refresh_token() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "code-from-spotify", json(TOKEN_AUTHORIZED)).await;
    let dir = scratch_dir("auth");
    let mut run = AuthRun::start(&spotify, &dir, &[]);

    let query = run.authorize_query(&spotify.uri()).await;
    assert!(
        run.seen[0].contains("Redirect URI"),
        "the redirect URI comes first: {:?}",
        run.seen
    );
    assert!(
        run.seen
            .iter()
            .take(4)
            .any(|l| l.trim() == run.redirect_uri),
        "{:?}",
        run.seen
    );
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["redirect_uri"], run.redirect_uri);
    assert_eq!(
        query["scope"],
        "user-read-currently-playing user-read-recently-played user-top-read"
    );
    assert_eq!(query["show_dialog"], "true");
    assert_eq!(query["state"].len(), 32);

    let (status, page) = run
        .callback(&format!("code=code-from-spotify&state={}", query["state"]))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("close this tab"));
    let (output, stderr) = run.finish().await;
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "SPOTIFY_REFRESH_TOKEN={AUTHORIZED_REFRESH_TOKEN}\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("SPOTIFY_REFRESH_TOKEN_OBTAINED_AT=20"),
        "{stdout}"
    );
    assert!(
        !stderr.contains(AUTHORIZED_REFRESH_TOKEN),
        "the token goes to stdout only"
    );
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_the_listener_keeps_waiting() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "good", json(TOKEN_AUTHORIZED)).await;
    let mut run = AuthRun::start(&spotify, &scratch_dir("auth"), &[]);
    let query = run.authorize_query(&spotify.uri()).await;

    let (status, page) = run.callback("code=forged&state=not-the-state").await;
    assert_eq!(status, 400);
    assert!(page.contains("does not belong"));
    let (status, _) = run
        .callback(&format!("code=good&state={}", query["state"]))
        .await;
    assert_eq!(status, 200);
    let (output, stderr) = run.finish().await;
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn access_denied_ends_with_a_clear_message() {
    let spotify = MockServer::start().await;
    let mut run = AuthRun::start(&spotify, &scratch_dir("auth"), &[]);
    let query = run.authorize_query(&spotify.uri()).await;

    let (status, _) = run
        .callback(&format!("error=access_denied&state={}", query["state"]))
        .await;
    assert_eq!(status, 200);
    let (output, stderr) = run.finish().await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("error: you declined access") && stderr.contains("access_denied"),
        "{stderr}"
    );
}

#[tokio::test]
async fn token_endpoint_refusals_each_explain_what_to_fix() {
    let cases = [
        (json_status(400, INVALID_GRANT), "already used, has expired"),
        (
            json_status(
                400,
                r#"{"error":"invalid_grant","error_description":"Invalid redirect URI"}"#,
            ),
            "refused the redirect URI",
        ),
        (json_status(400, INVALID_CLIENT), "client id or secret"),
    ];
    for (response, explanation) in cases {
        let spotify = MockServer::start().await;
        mount_code_exchange(&spotify, "some-code", response).await;
        let mut run = AuthRun::start(&spotify, &scratch_dir("auth"), &[]);
        let query = run.authorize_query(&spotify.uri()).await;
        let (status, page) = run
            .callback(&format!("code=some-code&state={}", query["state"]))
            .await;
        assert_eq!(status, 502);
        assert!(page.contains(explanation), "{page}");
        let (output, stderr) = run.finish().await;
        assert_eq!(output.status.code(), Some(1));
        let last = stderr.lines().last().unwrap();
        assert!(
            last.starts_with("error: ") && last.contains(explanation),
            "one line that says what to fix: {stderr}"
        );
    }
}

#[tokio::test]
async fn code_skips_the_listener() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "pasted-code", json(TOKEN_AUTHORIZED)).await;
    let env = client_env(&spotify);
    let output = binary(&["auth", "--code", "pasted-code"], &as_env(&env))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("http://127.0.0.1:8888/callback"),
        "the default redirect URI is named"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(AUTHORIZED_REFRESH_TOKEN));
}

#[tokio::test]
async fn localhost_and_plain_http_elsewhere_are_refused_before_anything_else() {
    let spotify = MockServer::start().await;
    let env = client_env(&spotify);
    let output = binary(
        &["auth", "--redirect-uri", "http://localhost:8888/callback"],
        &as_env(&env),
    )
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("Spotify rejects `localhost`")
            && stderr.contains("http://127.0.0.1:8888/callback"),
        "{stderr}"
    );

    let output = binary(
        &["auth", "--redirect-uri", "http://example.com/callback"],
        &as_env(&env),
    )
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("loopback IP"), "{stderr}");
    assert!(spotify.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn write_env_updates_exactly_the_two_keys_and_keeps_everything_else() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "c", json(TOKEN_AUTHORIZED)).await;
    let dir = scratch_dir("auth");
    let original = "# my blog's widget\nSPOTIFY_CLIENT_ID=abc\n\n# the token\nSPOTIFY_REFRESH_TOKEN=old-token\nCACHE_TTL=15 # seconds\nexport SPOTIFY_REFRESH_TOKEN_OBTAINED_AT=2020-01-01T00:00:00Z\n";
    std::fs::write(dir.join(".env"), original).unwrap();
    let env = client_env(&spotify);
    let output = binary_in(
        &dir,
        &["auth", "--code", "c", "--write-env", ".env"],
        &as_env(&env),
    )
    .output()
    .await
    .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(AUTHORIZED_REFRESH_TOKEN),
        "written, not printed"
    );

    let updated = std::fs::read_to_string(dir.join(".env")).unwrap();
    let lines: Vec<&str> = updated.lines().collect();
    assert_eq!(lines[0], "# my blog's widget");
    assert_eq!(lines[1], "SPOTIFY_CLIENT_ID=abc");
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "# the token");
    assert_eq!(
        lines[4],
        format!("SPOTIFY_REFRESH_TOKEN={AUTHORIZED_REFRESH_TOKEN}")
    );
    assert_eq!(lines[5], "CACHE_TTL=15 # seconds");
    assert!(
        lines[6].starts_with("SPOTIFY_REFRESH_TOKEN_OBTAINED_AT=20") && !lines[6].contains("2020")
    );
    assert_eq!(lines.len(), 7);
    assert_mode_0600(&dir.join(".env"));
}

#[tokio::test]
async fn write_env_creates_a_missing_file_with_mode_0600() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "c", json(TOKEN_AUTHORIZED)).await;
    let dir = scratch_dir("auth");
    let env = client_env(&spotify);
    let output = binary_in(
        &dir,
        &["auth", "--code", "c", "--write-env", "new.env"],
        &as_env(&env),
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let written = std::fs::read_to_string(dir.join("new.env")).unwrap();
    assert!(written.starts_with(&format!(
        "SPOTIFY_REFRESH_TOKEN={AUTHORIZED_REFRESH_TOKEN}\nSPOTIFY_REFRESH_TOKEN_OBTAINED_AT="
    )));
    assert_mode_0600(&dir.join("new.env"));
}

#[tokio::test]
async fn token_file_is_written_instead() {
    let spotify = MockServer::start().await;
    mount_code_exchange(&spotify, "c", json(TOKEN_AUTHORIZED)).await;
    let dir = scratch_dir("auth");
    let env = client_env(&spotify);
    let output = binary_in(
        &dir,
        &["auth", "--code", "c", "--token-file", "token.json"],
        &as_env(&env),
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("token.json")).unwrap()).unwrap();
    assert_eq!(stored["refresh_token"], AUTHORIZED_REFRESH_TOKEN);
    assert!(stored["obtained_at"].as_str().unwrap().starts_with("20"));
    assert_mode_0600(&dir.join("token.json"));
}

#[tokio::test]
async fn timeout_ends_the_wait_with_a_message() {
    let spotify = MockServer::start().await;
    let mut run = AuthRun::start(&spotify, &scratch_dir("auth"), &["--timeout", "1"]);
    run.authorize_query(&spotify.uri()).await;
    let (output, stderr) = run.finish().await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("no answer from the browser within 1 s"),
        "{stderr}"
    );
}

fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}
